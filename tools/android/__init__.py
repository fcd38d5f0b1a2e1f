"""An Android phone or emulator over ADB."""
