"""What every layer counts and logs; imports nothing of ours."""
