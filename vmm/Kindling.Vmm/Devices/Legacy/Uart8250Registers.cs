namespace Kindling.Vmm.Devices.Legacy;

/// <summary>Register offsets and bits of the 8250/16550A UART, with the names of Linux's serial_reg.h.</summary>
public static class Uart8250Registers
{
    // Offsets from the base port (DLAB = 0 unless noted).
    /// <summary>UART_RX (read) / UART_TX (write); UART_DLL when DLAB is set.</summary>
    public const ulong Data = 0;
    /// <summary>UART_IER; UART_DLM when DLAB is set.</summary>
    public const ulong InterruptEnable = 1;
    /// <summary>UART_IIR (read) / UART_FCR (write).</summary>
    public const ulong InterruptIdentification = 2;
    public const ulong LineControl = 3;
    public const ulong ModemControl = 4;
    public const ulong LineStatus = 5;
    public const ulong ModemStatus = 6;
    public const ulong Scratch = 7;

    /// <summary>Eight consecutive ports.</summary>
    public const ulong Size = 8;

    // UART_IER bits.
    public const byte IerRdi = 0x01;
    public const byte IerThri = 0x02;
    public const byte IerRlsi = 0x04;
    public const byte IerMsi = 0x08;
    public const byte IerMask = 0x0f;

    // UART_IIR values.
    public const byte IirNoInt = 0x01;
    public const byte IirMsi = 0x00;
    public const byte IirThri = 0x02;
    public const byte IirRdi = 0x04;
    public const byte IirRlsi = 0x06;
    /// <summary>UART_IIR_FIFO_ENABLED_16550A: both FIFO bits, reported while FCR enables the FIFOs.</summary>
    public const byte IirFifoEnabled = 0xc0;

    // UART_FCR bits.
    public const byte FcrEnableFifo = 0x01;
    public const byte FcrClearRcvr = 0x02;
    public const byte FcrClearXmit = 0x04;

    // UART_LCR bits.
    /// <summary>UART_LCR_DLAB: offsets 0/1 address the divisor latch.</summary>
    public const byte LcrDlab = 0x80;
    /// <summary>UART_LCR_WLEN8.</summary>
    public const byte LcrWlen8 = 0x03;

    // UART_MCR bits.
    public const byte McrDtr = 0x01;
    public const byte McrRts = 0x02;
    public const byte McrOut1 = 0x04;
    public const byte McrOut2 = 0x08;
    public const byte McrLoop = 0x10;
    public const byte McrMask = 0x1f;

    // UART_LSR bits.
    public const byte LsrDr = 0x01;
    public const byte LsrOe = 0x02;
    public const byte LsrPe = 0x04;
    public const byte LsrFe = 0x08;
    public const byte LsrBi = 0x10;
    public const byte LsrThre = 0x20;
    public const byte LsrTemt = 0x40;
    public const byte LsrErrorBits = LsrOe | LsrPe | LsrFe | LsrBi;

    // UART_MSR bits.
    public const byte MsrDcts = 0x01;
    public const byte MsrDdsr = 0x02;
    public const byte MsrTeri = 0x04;
    public const byte MsrDdcd = 0x08;
    public const byte MsrDeltaMask = 0x0f;
    public const byte MsrCts = 0x10;
    public const byte MsrDsr = 0x20;
    public const byte MsrRi = 0x40;
    public const byte MsrDcd = 0x80;

    /// <summary>The 16550A's FIFO depth in each direction.</summary>
    public const int FifoSize = 16;
}
