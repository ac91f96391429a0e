"""Trainers written as a team would write them; allowed by default (MLKANBAN_TRAINER_MODULES)."""
