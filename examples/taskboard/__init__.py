"""Taskboard: Bastion's reference application."""
