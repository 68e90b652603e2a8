"""The names of the registry's aliases, which are also the roles of the models a gate report compares."""

CHAMPION = "champion"  # the model in production: what every challenger is held against
CHALLENGER = "challenger"  # a model that passed every gate and awaits promotion
PREVIOUS_CHAMPION = "previous_champion"  # the champion before the last promotion: what a rollback restores
