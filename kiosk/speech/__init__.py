"""Speech output: every screen, and every change on it, spoken in the patron's language.

`engine` drives an offline synthesiser (espeak-ng from Debian, voices in the package, nothing
from the internet); `speaker` runs it off the UI thread, latest utterance first, with repeat,
stop, slower and louder; what is said comes from `kiosk.ui.wording`, the same sentences the
screen shows.
"""
