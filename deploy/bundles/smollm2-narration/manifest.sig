{"algorithm":"ed25519","key_id":"3a7013cf6ab15664","signature":"D2FikELgCbvu4Pu0FjKEN/7bbizfbYT/cW8m1BloIqbMDG0pIrbTFlBwlYui5psO85N3i4XPgRYWWqp+MC1HCA=="}
