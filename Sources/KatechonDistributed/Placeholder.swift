import CMPI
import CMPIShim
