"""Hardware drivers. Each publishes events; none makes a circulation decision."""
