"""Remediations for Amazon GuardDuty."""
