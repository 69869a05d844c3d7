"""Template tags of the incidents app."""
