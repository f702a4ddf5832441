#include "katechon_mpi.h"

MPI_Comm katechon_mpi_comm_world(void) { return MPI_COMM_WORLD; }
MPI_Datatype katechon_mpi_float(void) { return MPI_FLOAT; }
MPI_Datatype katechon_mpi_double(void) { return MPI_DOUBLE; }
MPI_Datatype katechon_mpi_int(void) { return MPI_INT; }
MPI_Datatype katechon_mpi_int64(void) { return MPI_INT64_T; }
MPI_Datatype katechon_mpi_uint8(void) { return MPI_UINT8_T; }
MPI_Datatype katechon_mpi_uint16(void) { return MPI_UINT16_T; }
MPI_Op katechon_mpi_sum(void) { return MPI_SUM; }
MPI_Op katechon_mpi_max(void) { return MPI_MAX; }
MPI_Op katechon_mpi_min(void) { return MPI_MIN; }
MPI_Request katechon_mpi_request_null(void) { return MPI_REQUEST_NULL; }
MPI_Status *katechon_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
void *katechon_mpi_in_place(void) { return MPI_IN_PLACE; }
int katechon_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
int katechon_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
int katechon_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
int katechon_mpi_success(void) { return MPI_SUCCESS; }
int katechon_mpi_any_source(void) { return MPI_ANY_SOURCE; }
int katechon_mpi_any_tag(void) { return MPI_ANY_TAG; }
MPI_Errhandler katechon_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
