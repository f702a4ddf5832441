#ifndef KATECHON_MPI_H
#define KATECHON_MPI_H

// Open MPI defines its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) as macros that
// expand to addresses of internal globals, which Swift cannot import. These functions
// return the handles as plain values.

#include <mpi.h>

MPI_Comm katechon_mpi_comm_world(void);
MPI_Datatype katechon_mpi_float(void);
MPI_Datatype katechon_mpi_double(void);
MPI_Datatype katechon_mpi_int(void);
MPI_Datatype katechon_mpi_int64(void);
MPI_Datatype katechon_mpi_uint8(void);
MPI_Datatype katechon_mpi_uint16(void);
MPI_Op katechon_mpi_sum(void);
MPI_Op katechon_mpi_max(void);
MPI_Op katechon_mpi_min(void);
MPI_Request katechon_mpi_request_null(void);
MPI_Status *katechon_mpi_status_ignore(void);
void *katechon_mpi_in_place(void);
int katechon_mpi_thread_multiple(void);
int katechon_mpi_thread_serialized(void);
int katechon_mpi_thread_funneled(void);
int katechon_mpi_success(void);
int katechon_mpi_any_source(void);
int katechon_mpi_any_tag(void);
MPI_Errhandler katechon_mpi_errors_return(void);

#endif
