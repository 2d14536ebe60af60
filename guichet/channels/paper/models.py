"""Scanned letters as they were received, and what OCR and sender matching made of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PaperLetter(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for OCR")
        DONE = "done", _("Read")
        OCR_FAILED = "ocr_failed", _("OCR failed")

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    storage_key = models.CharField(max_length=100, unique=True)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    ocr_error = models.CharField(_("OCR error"), max_length=255, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    text = models.TextField(_("recognised text"), blank=True)
    # How the sender was recognised: email, phone, customer_number, reference, or "" (not found).
    matched_by = models.CharField(_("sender matched by"), max_length=20, blank=True)
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("paper letter")
        verbose_name_plural = _("paper letters")

    def __str__(self) -> str:
        return self.filename
