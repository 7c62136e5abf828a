"""Health: what each instance observes, the probe Front Door polls, and (later) the routing decisions."""
