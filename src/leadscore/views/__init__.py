"""Views for sales and marketing: the contract report, profiles, align, funnel, feedback, report."""
