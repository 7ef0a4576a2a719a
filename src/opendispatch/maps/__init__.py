"""The community's map: its postal list (postal codes and where they are) and each server's map blips."""
