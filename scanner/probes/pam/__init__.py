"""Linux-PAM and the modules it loads: one module per consumer."""
