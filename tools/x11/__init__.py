"""Executors on an X11 display: the desktop (PyAutoGUI + mss), Xvfb virtual displays, XTEST keyboard."""
