"""Guichet: helpdesk, contact centre and service counter in one."""
