"""Long-form articles written sentence by sentence: plan -> generate (model or phrase banks) -> assemble."""
