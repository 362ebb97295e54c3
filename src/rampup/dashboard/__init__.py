"""The web dashboard: pages, their JSON panels and static files, served by rampup."""
