namespace Kindling.Vmm.Api;

/// <summary>PUT /snapshot/create (only while Paused).</summary>
public sealed record CreateSnapshot(SnapshotCreateRequest Request) : VmmAction;

/// <summary>PUT /snapshot/load (only on a VMM that has neither started nor been given boot-specific resources).</summary>
public sealed record LoadSnapshot(SnapshotLoadRequest Request) : VmmAction;
