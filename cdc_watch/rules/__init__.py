"""The health rules: the alert model, the rule table, evaluation and its PromQL twin."""
