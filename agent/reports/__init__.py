"""What people look at after (or during) a run: HTML reports, annotated screenshots, GIF/MP4, live view."""
