"""Profile UI: unified customer profiles from spreadsheets."""
