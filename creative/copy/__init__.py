"""Copy generation: short titles and long-form articles from a language model or templates, behind guardrails."""
