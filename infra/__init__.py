"""samtykke's CDK app: one stack per EU region, built from the specs in `samtykke.resources`."""
