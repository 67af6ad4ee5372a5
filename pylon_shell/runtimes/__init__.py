"""The interpreters pylon can start, behind one Runtime protocol (base.py).

They are started by pylon_shell.launch, which builds their artifacts first.
"""
