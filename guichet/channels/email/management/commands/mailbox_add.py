"""`manage.py mailbox_add ADDRESS`: add a mailbox Guichet receives mail for."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from guichet.accounts.models import Team
from guichet.channels.email.services import mailbox_create
from guichet.core.exceptions import Conflict, InvalidInput


class Command(BaseCommand):
    help = (
        "Add a mailbox. With --imap-host, Guichet polls it over IMAP; the password is read from "
        "the environment variable named by --imap-password-env, or asked for (never an argument)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        # No abbreviations: `--imap-password SECRET` must fail, not pass for --imap-password-env.
        return super().create_parser(prog_name, subcommand, allow_abbrev=False, **kwargs)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("address", help="the address mail is sent to, e.g. cartes@bank.fr")
        parser.add_argument("--team", default=None, help="team name or slug receiving its mail")
        parser.add_argument("--name", default="", help="display name for outgoing mail")
        parser.add_argument(
            "--no-acknowledge", action="store_true", help="send no acknowledgement email"
        )
        parser.add_argument("--imap-host", default="", help="IMAP server to poll")
        parser.add_argument("--imap-port", type=int, default=993, help="IMAP port (993)")
        parser.add_argument("--imap-no-ssl", action="store_true", help="plain IMAP (tests only)")
        parser.add_argument("--imap-user", default="", help="IMAP user name")
        parser.add_argument(
            "--imap-password-env",
            default=None,
            metavar="VAR",
            help="name of the environment variable holding the IMAP password",
        )
        parser.add_argument("--imap-folder", default="INBOX", help="folder to poll (INBOX)")

    def handle(self, *args: Any, **options: Any) -> None:
        team = None
        if options["team"]:
            wanted = options["team"]
            team = Team.objects.filter(Q(name__iexact=wanted) | Q(slug__iexact=wanted)).first()
            if team is None:
                raise CommandError(f"No team named {wanted}.")
        password = ""
        if options["imap_host"]:
            password = self._password(options["imap_password_env"])
        try:
            mailbox = mailbox_create(
                address=options["address"],
                team=team,
                name=options["name"],
                auto_acknowledge=not options["no_acknowledge"],
                imap_host=options["imap_host"],
                imap_port=options["imap_port"],
                imap_ssl=not options["imap_no_ssl"],
                imap_username=options["imap_user"],
                imap_password=password,
                imap_folder=options["imap_folder"],
            )
        except (Conflict, InvalidInput) as exc:
            raise CommandError(str(exc)) from None
        where = f" for team {team.name}" if team else " (default team)"
        polled = f", polled at {mailbox.imap_host}" if mailbox.imap_host else ""
        self.stdout.write(self.style.SUCCESS(f"Mailbox {mailbox.address} added{where}{polled}."))

    def _password(self, variable: str | None) -> str:
        if variable:
            value = os.environ.get(variable, "")
            if not value:
                raise CommandError(f"The environment variable {variable} is empty or not set.")
            return value
        if not sys.stdin.isatty():
            raise CommandError("Give the IMAP password with --imap-password-env VAR.")
        return getpass.getpass("IMAP password: ")
