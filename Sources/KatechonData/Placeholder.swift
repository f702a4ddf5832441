import CTurboJPEG
import CPNG
import CHDF5
