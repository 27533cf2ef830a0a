"""leadscore: lead scoring that encodes the A-lead contract agreed by sales and marketing."""

__version__ = "0.1.0"
