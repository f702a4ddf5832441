import KatechonDistributed
print("katechon-mpi-probe")
