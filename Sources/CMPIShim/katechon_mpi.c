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
int katechon_mpi_thread_single(void) { return MPI_THREAD_SINGLE; }
int katechon_mpi_success(void) { return MPI_SUCCESS; }
int katechon_mpi_any_source(void) { return MPI_ANY_SOURCE; }
int katechon_mpi_any_tag(void) { return MPI_ANY_TAG; }
MPI_Errhandler katechon_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
MPI_Info katechon_mpi_info_null(void) { return MPI_INFO_NULL; }
int katechon_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }

#include <string.h>

static uint32_t float_bits(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static float float_from_bits(uint32_t bits) {
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

// Shifts `value` right by `shift` bits (1 <= shift <= 31), rounding to nearest even.
static uint32_t shift_right_nearest_even(uint32_t value, uint32_t shift) {
    uint32_t quotient = value >> shift;
    uint32_t remainder = value & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (remainder > half || (remainder == half && (quotient & 1u))) {
        quotient += 1u;
    }
    return quotient;
}

uint16_t katechon_float_to_fp16(float value) {
    uint32_t bits = float_bits(value);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t magnitude = bits & 0x7fffffffu;

    // Infinity and NaN; a NaN keeps its top payload bits and is forced quiet.
    if (magnitude >= 0x7f800000u) {
        if (magnitude == 0x7f800000u) return sign | 0x7c00u;
        return sign | 0x7e00u | (uint16_t)((magnitude >> 13) & 0x3ffu);
    }

    // 65520 (0x477ff000) is halfway between the largest binary16, 65504, and 2^16; the
    // tie goes to the even neighbour 2^16, which overflows to infinity.
    if (magnitude >= 0x477ff000u) return sign | 0x7c00u;

    // Normal binary16 range starts at 2^-14 (0x38800000). Rebias the exponent from 127
    // to 15 and drop 13 mantissa bits; a carry out of the mantissa correctly bumps the
    // exponent.
    if (magnitude >= 0x38800000u) {
        uint32_t rebiased = magnitude - (112u << 23);
        return sign | (uint16_t)shift_right_nearest_even(rebiased, 13);
    }

    // Subnormal binary16: the result counts units of 2^-24. Below 2^-25 everything rounds
    // to zero; exactly 2^-25 is a tie that also goes to the even value zero.
    uint32_t exponent = magnitude >> 23;
    if (exponent < 102u) return sign;
    uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    return sign | (uint16_t)shift_right_nearest_even(mantissa, 126u - exponent);
}

float katechon_fp16_to_float(uint16_t bits) {
    uint32_t sign = ((uint32_t)bits & 0x8000u) << 16;
    uint32_t exponent = ((uint32_t)bits >> 10) & 0x1fu;
    uint32_t mantissa = (uint32_t)bits & 0x3ffu;

    if (exponent == 0x1fu) return float_from_bits(sign | 0x7f800000u | (mantissa << 13));
    if (exponent != 0u) return float_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));

    // Zero or subnormal: mantissa * 2^-24 is exact in float.
    float magnitude = (float)mantissa * 0x1p-24f;
    return float_from_bits(sign | float_bits(magnitude));
}

uint16_t katechon_float_to_bf16(float value) {
    uint32_t bits = float_bits(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return (uint16_t)((bits >> 16) | 0x0040u);
    }
    // Adding 0x7fff plus the lowest kept bit rounds half to even. For the largest finite
    // floats the carry reaches the exponent and gives infinity, as IEEE rounding does.
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)((bits + rounding) >> 16);
}

float katechon_bf16_to_float(uint16_t bits) {
    return float_from_bits((uint32_t)bits << 16);
}

void katechon_encode_fp16(const float *source, float scale, uint16_t *destination, size_t count) {
    for (size_t i = 0; i < count; i++) destination[i] = katechon_float_to_fp16(source[i] * scale);
}

void katechon_decode_fp16(const uint16_t *source, float *destination, size_t count) {
    for (size_t i = 0; i < count; i++) destination[i] = katechon_fp16_to_float(source[i]);
}

void katechon_encode_bf16(const float *source, float scale, uint16_t *destination, size_t count) {
    for (size_t i = 0; i < count; i++) destination[i] = katechon_float_to_bf16(source[i] * scale);
}

void katechon_decode_bf16(const uint16_t *source, float *destination, size_t count) {
    for (size_t i = 0; i < count; i++) destination[i] = katechon_bf16_to_float(source[i]);
}

// MPI_User_function bodies: inout[i] = round(in[i] + inout[i]) over `*length` values.
static void sum_fp16(void *input, void *inout, int *length, MPI_Datatype *datatype) {
    (void)datatype;
    const uint16_t *a = (const uint16_t *)input;
    uint16_t *b = (uint16_t *)inout;
    for (int i = 0; i < *length; i++) {
        b[i] = katechon_float_to_fp16(katechon_fp16_to_float(a[i]) + katechon_fp16_to_float(b[i]));
    }
}

static void sum_bf16(void *input, void *inout, int *length, MPI_Datatype *datatype) {
    (void)datatype;
    const uint16_t *a = (const uint16_t *)input;
    uint16_t *b = (uint16_t *)inout;
    for (int i = 0; i < *length; i++) {
        b[i] = katechon_float_to_bf16(katechon_bf16_to_float(a[i]) + katechon_bf16_to_float(b[i]));
    }
}

int katechon_mpi_op_create_fp16_sum(MPI_Op *op) { return MPI_Op_create(sum_fp16, 1, op); }
int katechon_mpi_op_create_bf16_sum(MPI_Op *op) { return MPI_Op_create(sum_bf16, 1, op); }
