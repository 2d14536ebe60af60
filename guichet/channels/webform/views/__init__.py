"""Public pages of the web form (`contact/`) and the customer portal (`portal/`)."""
