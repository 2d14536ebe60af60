"""Web form and customer portal."""
