"""The email channel: inbound over SMTP/LMTP, IMAP and file import; outbound through an outbox."""
