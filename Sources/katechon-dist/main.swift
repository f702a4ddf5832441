import KatechonTraining
print("katechon-dist")
