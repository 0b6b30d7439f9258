"""Value types shared by every layer (no behaviour beyond reading themselves)."""
