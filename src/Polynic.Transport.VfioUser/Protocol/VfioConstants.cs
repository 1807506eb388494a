namespace Polynic.Transport.VfioUser.Protocol;

/// <summary>Values from linux/vfio.h that vfio-user reuses (spec, "VFIO Device Model").</summary>
internal static class VfioConstants
{
    // struct vfio_device_info.flags
    public const uint DeviceFlagsReset = 1 << 0;
    public const uint DeviceFlagsPci = 1 << 1;

    // PCI region indices (VFIO_PCI_*_REGION_INDEX)
    public const int Bar0RegionIndex = 0;
    public const int Bar5RegionIndex = 5;
    public const int RomRegionIndex = 6;
    public const int ConfigRegionIndex = 7;
    public const int VgaRegionIndex = 8;
    public const int PciRegionCount = 9;

    // struct vfio_region_info.flags
    public const uint RegionInfoFlagRead = 1 << 0;
    public const uint RegionInfoFlagWrite = 1 << 1;

    // PCI IRQ indices (VFIO_PCI_*_IRQ_INDEX)
    public const int IntxIrqIndex = 0;
    public const int MsiIrqIndex = 1;
    public const int MsixIrqIndex = 2;
    public const int ErrIrqIndex = 3;
    public const int ReqIrqIndex = 4;
    public const int PciIrqCount = 5;

    // struct vfio_irq_info.flags
    public const uint IrqInfoEventfd = 1 << 0;
    public const uint IrqInfoMaskable = 1 << 1;
    public const uint IrqInfoAutomasked = 1 << 2;
    public const uint IrqInfoNoResize = 1 << 3;

    // struct vfio_irq_set.flags
    public const uint IrqSetDataNone = 1 << 0;
    public const uint IrqSetDataBool = 1 << 1;
    public const uint IrqSetDataEventfd = 1 << 2;
    public const uint IrqSetActionMask = 1 << 3;
    public const uint IrqSetActionUnmask = 1 << 4;
    public const uint IrqSetActionTrigger = 1 << 5;
    public const uint IrqSetDataMask = IrqSetDataNone | IrqSetDataBool | IrqSetDataEventfd;
    public const uint IrqSetActionMaskAll = IrqSetActionMask | IrqSetActionUnmask | IrqSetActionTrigger;

    // DMA map/unmap flags (struct vfio_iommu_type1_dma_map / _unmap)
    public const uint DmaMapFlagRead = 1 << 0;
    public const uint DmaMapFlagWrite = 1 << 1;
    public const uint DmaUnmapFlagGetDirtyBitmap = 1 << 0;
    public const uint DmaUnmapFlagAll = 1 << 1;
}
