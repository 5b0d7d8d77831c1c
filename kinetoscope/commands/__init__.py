"""The command line's commands beyond the parser (kinetoscope/cli.py): what they share (`common`)
and `generate`'s tasks, run through the one dispatcher (`tasks.run`)."""
