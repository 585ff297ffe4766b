"""Subcommands of psw, one module each."""
