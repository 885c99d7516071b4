"""SFT data for refining models: teacher judgments, teacher rewrites turned into programs, gold labels."""
