"""Executors that carry out actions on a screen: web (Playwright browser and emulated phone),
x11 (PyAutoGUI desktop on X), android (adb); the contract they share (:mod:`.base`) and
:func:`check_executor`, the contract as a test for anyone who writes an executor."""

from screenpilot.tools.contract import ExecutorContractError, check_executor

__all__ = ["ExecutorContractError", "check_executor"]
