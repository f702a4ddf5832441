#ifndef KATECHON_MPI_H
#define KATECHON_MPI_H

// Open MPI defines its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) as macros that
// expand to addresses of internal globals, which Swift cannot import. These functions
// return the handles as plain values.

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

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
int katechon_mpi_thread_single(void);
int katechon_mpi_success(void);
int katechon_mpi_any_source(void);
int katechon_mpi_any_tag(void);
MPI_Errhandler katechon_mpi_errors_return(void);
MPI_Info katechon_mpi_info_null(void);
int katechon_mpi_comm_type_shared(void);

// Gradient compression to 16-bit floats. A value travels as its bit pattern in an
// MPI_UINT16_T buffer and is summed by a user-defined operation that widens each pair to
// float, adds and rounds back, so partial sums are rounded to 16 bits at every step.

/// Creates the commutative MPI operation that sums IEEE 754 binary16 values.
int katechon_mpi_op_create_fp16_sum(MPI_Op *op);
/// Creates the commutative MPI operation that sums bfloat16 values.
int katechon_mpi_op_create_bf16_sum(MPI_Op *op);

/// Converts a float to binary16, rounding to nearest even; overflow gives infinity and
/// NaN stays NaN.
uint16_t katechon_float_to_fp16(float value);
/// Converts binary16 to float exactly.
float katechon_fp16_to_float(uint16_t bits);
/// Converts a float to bfloat16, rounding to nearest even; NaN stays NaN.
uint16_t katechon_float_to_bf16(float value);
/// Converts bfloat16 to float exactly.
float katechon_bf16_to_float(uint16_t bits);

/// Writes round_to_fp16(source[i] * scale) to destination[i] for i in [0, count).
void katechon_encode_fp16(const float *source, float scale, uint16_t *destination, size_t count);
/// Writes the float value of source[i] to destination[i] for i in [0, count).
void katechon_decode_fp16(const uint16_t *source, float *destination, size_t count);
/// Writes round_to_bf16(source[i] * scale) to destination[i] for i in [0, count).
void katechon_encode_bf16(const float *source, float scale, uint16_t *destination, size_t count);
/// Writes the float value of source[i] to destination[i] for i in [0, count).
void katechon_decode_bf16(const uint16_t *source, float *destination, size_t count);

#endif
