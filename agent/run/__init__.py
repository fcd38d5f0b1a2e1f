"""One run: the perception-action loop, its settings, repeat detection, interrupts and the trajectory folder."""
