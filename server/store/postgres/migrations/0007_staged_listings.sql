-- Rampart server schema, version 7: a staged update's listings are no
-- longer staged; its commit computes them and writes them at once.

DROP TABLE staged_listings;
