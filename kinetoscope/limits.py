"""Limits on what a request may ask for: the one place each bound lives."""

PROMPT_MAX_CHARS = 1000
STEPS = (1, 200)
GUIDANCE = (0.0, 20.0)
FPS = (1, 60)
SEED = (0, 2**63 - 1)
SIZE_MULTIPLE = 16
GIVEN_RELEASE = (0.0, 1.0)  # given frames next to new ones are held down to this noise level, then released
STRENGTH = (0.0, 1.0)  # edit: how far the input video is noised before denoising
GUIDANCE_FLOOR = (0.0, 1.0)  # the noise level below which guidance is off: 0 keeps it on to the end
STEP_CACHE = (0.0, 1.0)  # step caching threshold: 0 is off
TRANSITIONS = ("dissolve", "continue", "cut")  # storyboard: how a shot is reached from the one before; the first is the default
