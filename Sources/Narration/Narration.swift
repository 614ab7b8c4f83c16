// Narration module. See ../../README.md for what it holds.
