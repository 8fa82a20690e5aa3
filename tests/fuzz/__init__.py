"""Random kernel generation and differential testing (interpreter vs reference vs RTL)."""
