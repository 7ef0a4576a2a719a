"""The call history: every change to a call, kept in order and never rewritten."""
