using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Polynic.Management.Control;
using Polynic.Management.Hosting;
using Polynic.Modules;
using Polynic.Ports.Faults;

namespace Polynic.Management.Http;

/// <summary>A module file on the server.</summary>
/// <param name="Path">Absolute path of a .dll, .cs or .xml module on the server's file system.</param>
public sealed record ModuleFileRequest(string Path);

/// <summary>A NIC to create.</summary>
/// <param name="Spec"><c>PERSONALITY:SOCKET[,mac=..][,tap=..][,name=..][,msix=off][,OPTION=VALUE..]</c>, as for <c>serve --device</c>.</param>
public sealed record NicRequest(string Spec);

/// <summary>Faults to inject on a NIC's port.</summary>
/// <param name="Spec">As for <c>polynic nics faults</c>, e.g. <c>drop=0.01,delayMs=5</c>.</param>
public sealed record FaultsRequest(string Spec);

/// <summary>The link a NIC's guest should see.</summary>
/// <param name="Up">true: cable plugged in; false: cable pulled (the guest sees no carrier, nothing crosses).</param>
public sealed record LinkRequest(bool? Up);

/// <summary>A capture to start.</summary>
/// <param name="Nic">The NIC to record, both directions.</param>
public sealed record CaptureRequest(string Nic);

/// <summary>A NIC just created, and what its removal would cost.</summary>
/// <param name="Nic">The NIC.</param>
/// <param name="Warning">Null, or what goes wrong if a VMM unplugs it (a card with MSI-X aborts QEMU).</param>
public sealed record NicCreated(NicStatus Nic, string? Warning);

/// <summary>
/// The API's resources, each a thin mapping onto one <see cref="ManagementService"/> operation:
/// the control socket and this API do exactly the same things.
/// </summary>
internal static class ApiEndpoints
{
    /// <summary>Media type of a pcapng capture.</summary>
    public const string PcapngMediaType = "application/x-pcapng";

    /// <param name="app">Where the routes go.</param>
    /// <param name="service">The operations.</param>
    /// <param name="events">The server's events.</param>
    /// <param name="captures">The API's captures.</param>
    /// <param name="stopping">Cancelled when the server stops: ends event streams and live captures, which would otherwise hold the stop up.</param>
    public static void Map(IEndpointRouteBuilder app, ManagementService service, ServerEvents events, CaptureSessions captures, CancellationToken stopping)
    {
        var api = app.MapGroup("/api/v1");
        // Every resource can answer with these (AccessPolicy's refusals, the service's errors), as problem+json.
        foreach (int status in new[] { 400, 401, 403, 404, 409, 421, 422 }) api.ProducesProblem(status);

        api.MapGet("/modules", () => TypedResults.Ok(service.ListModules()))
            .WithName("ListModules").WithSummary("Every module the server knows, loaded or failed, with its personalities and diagnostics.");
        api.MapPost("/modules", Results<Created<ModuleInfo>, ProblemHttpResult> (ModuleFileRequest request) =>
                Run(() =>
                {
                    var module = service.LoadModule(request.Path);
                    return TypedResults.Created($"/api/v1/modules/{Uri.EscapeDataString(module.Name)}", module);
                }))
            .WithName("LoadModule").WithSummary("Load a module file into the running server.");
        api.MapPost("/modules/validate", Results<Ok<ModuleInfo>, ProblemHttpResult> (ModuleFileRequest request) =>
                Run(() => TypedResults.Ok(service.ValidateModule(request.Path))))
            .WithName("ValidateModule").WithSummary("Check a module file without keeping it.");
        api.MapDelete("/modules/{name}", async Task<Results<NoContent, ProblemHttpResult>> (string name) =>
                await RunAsync(async () => { await service.UnloadModuleAsync(name); return TypedResults.NoContent(); }))
            .WithName("UnloadModule").WithSummary("Unload a module that no served NIC uses.");

        api.MapGet("/personalities", () => TypedResults.Ok(service.ListPersonalities()))
            .WithName("ListPersonalities").WithSummary("The personalities the loaded modules provide.");

        api.MapGet("/nics", () => TypedResults.Ok(service.ListNics()))
            .WithName("ListNics").WithSummary("Served NICs and NICs that failed to start.");
        api.MapGet("/nics/{name}", Results<Ok<NicStatus>, ProblemHttpResult> (string name) => Run(() => TypedResults.Ok(service.GetNic(name))))
            .WithName("GetNic").WithSummary("One NIC.");
        api.MapPost("/nics", async Task<Results<Created<NicCreated>, ProblemHttpResult>> (NicRequest request, CancellationToken cancellationToken) =>
                await RunAsync(async () =>
                {
                    var (nic, warning) = await service.AddNicAsync(request.Spec, cancellationToken);
                    return TypedResults.Created($"/api/v1/nics/{Uri.EscapeDataString(nic.Name)}", new NicCreated(nic, warning));
                }))
            .WithName("AddNic").WithSummary("Create and serve a NIC from a specification.");
        api.MapDelete("/nics/{name}", async Task<Results<Ok<RemovedNic>, ProblemHttpResult>> (string name) =>
                await RunAsync(async () => TypedResults.Ok(new RemovedNic(name, await service.RemoveNicAsync(name)))))
            .WithName("RemoveNic").WithSummary("Stop serving a NIC.");
        api.MapPut("/nics/{name}/faults", Results<Ok<FaultSettings>, ProblemHttpResult> (string name, FaultsRequest request) =>
                Run(() => TypedResults.Ok(service.SetFaults(name, request.Spec))))
            .WithName("SetNicFaults").WithSummary("Replace the faults injected on a NIC's port (the NIC must be configured with fault injection).");
        api.MapGet("/nics/{name}/detail", Results<Ok<NicDetail>, ProblemHttpResult> (string name) => Run(() => TypedResults.Ok(service.GetNicDetail(name))))
            .WithName("GetNicDetail").WithSummary("One served NIC in full: PCI identity, VMM connection, interrupt mode, DMA regions, link, and the counters of the NIC and every port layer.");
        api.MapPut("/nics/{name}/link", Results<Ok<NicDetail>, ProblemHttpResult> (string name, LinkRequest request) =>
                Run(() => TypedResults.Ok(service.SetLink(name, request.Up ?? throw new ArgumentException("the request needs 'up': true (cable in) or false (cable out)")))))
            .WithName("SetNicLink").WithSummary("Plug a NIC's cable in or pull it out: the guest sees its link go up or down.");

        api.MapGet("/switches", () => TypedResults.Ok(service.ListSwitches()))
            .WithName("ListSwitches").WithSummary("Switches with their ports, VLANs, counters and MAC tables.");

        api.MapGet("/events", (HttpContext context) => Run(() =>
                {
                    var subscription = events.Subscribe();
                    return TypedResults.ServerSentEvents(Follow(subscription, context.RequestAborted, stopping));
                }))
            .WithName("FollowEvents").WithSummary("Server-sent events: NICs added, removed or failed, VMMs connecting and leaving, links, modules, captures. The first event, 'hello', says the stream is following.");

        api.MapGet("/captures", () => TypedResults.Ok(captures.List()))
            .WithName("ListCaptures").WithSummary("Captures started through the API, running and stopped.");
        api.MapPost("/captures", Results<Created<CaptureInfo>, ProblemHttpResult> (CaptureRequest request) =>
                Run(() =>
                {
                    var capture = captures.Start(request.Nic ?? throw new ArgumentException("the request needs a 'nic'"));
                    return TypedResults.Created($"/api/v1/captures/{Uri.EscapeDataString(capture.Id)}", capture);
                }))
            .WithName("StartCapture").WithSummary("Start recording a NIC (both directions) into a pcapng file on the server.");
        api.MapGet("/captures/{id}", Results<Ok<CaptureInfo>, ProblemHttpResult> (string id) => Run(() => TypedResults.Ok(captures.Get(id))))
            .WithName("GetCapture").WithSummary("One capture.");
        api.MapPost("/captures/{id}/stop", Results<Ok<CaptureInfo>, ProblemHttpResult> (string id) => Run(() => TypedResults.Ok(captures.Stop(id))))
            .WithName("StopCapture").WithSummary("Stop a capture; its file stays.");
        api.MapDelete("/captures/{id}", Results<NoContent, ProblemHttpResult> (string id) => Run(() => { captures.Delete(id); return TypedResults.NoContent(); }))
            .WithName("DeleteCapture").WithSummary("Stop a capture if it runs and delete its files.");
        api.MapGet("/captures/{id}/pcapng", Results<FileStreamHttpResult, ProblemHttpResult> (string id) => Run(() =>
                {
                    var (content, fileName) = captures.OpenFile(id);
                    return TypedResults.File(content, PcapngMediaType, fileName);
                }))
            .WithName("DownloadCapture").WithSummary("The capture file as recorded so far (a running capture goes on).");
        api.MapGet("/nics/{name}/capture/live", (string name, HttpContext context) => LiveCaptureAsync(captures, name, context, stopping))
            .WithName("LiveCapture").WithSummary("A pcapng stream of the NIC's frames, both directions, for as long as the client reads (curl -N URL | tshark -r -).")
            .Produces(StatusCodes.Status200OK, contentType: PcapngMediaType);
    }

    /// <summary>The subscription's events as SSE items, a 'hello' first; ends (and unsubscribes) when the client leaves.</summary>
    private static async IAsyncEnumerable<System.Net.ServerSentEvents.SseItem<ServerEvent>> Follow(ServerEvents.Subscription subscription,
        CancellationToken requestAborted, CancellationToken stopping,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken enumeration = default)
    {
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, stopping, enumeration);
        var cancellationToken = ended.Token;
        using (subscription)
        {
            yield return new(new ServerEvent("hello", DateTimeOffset.UtcNow), "hello");
            while (true)
            {
                ServerEvent next;
                try
                {
                    if (!await subscription.Reader.WaitToReadAsync(cancellationToken)) yield break;
                    if (!subscription.Reader.TryRead(out next!)) continue;
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
                yield return new(next, next.Type);
            }
        }
    }

    /// <summary>
    /// Streams a live capture: the capture's thread writes pcapng into a pipe (bounded: a client
    /// that reads slowly makes the capture leave frames out, never the NIC wait) and the request
    /// copies the pipe to the client until the client goes.
    /// </summary>
    private static async Task LiveCaptureAsync(CaptureSessions captures, string name, HttpContext context, CancellationToken stopping)
    {
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var pipe = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, useSynchronizationContext: false));
        IDisposable live;
        try
        {
            live = captures.StartLive(name, pipe.Writer.AsStream());
        }
        catch (Exception e) when (ManagementService.Classify(e) is { } kind)
        {
            await Problem(kind, e).ExecuteAsync(context);
            return;
        }
        try
        {
            context.Response.ContentType = PcapngMediaType;
            context.Response.Headers.CacheControl = "no-store";
            await context.Response.StartAsync(ended.Token);
            await pipe.Reader.CopyToAsync(context.Response.Body, ended.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client went away: that is how a live capture ends.
        }
        finally
        {
            // Completing the reader first releases a capture thread waiting for room in the pipe.
            await pipe.Reader.CompleteAsync();
            await Task.Run(live.Dispose);
            await pipe.Writer.CompleteAsync();
        }
    }

    private static Results<T, ProblemHttpResult> Run<T>(Func<T> operation) where T : IResult
    {
        try { return operation(); }
        catch (Exception e) when (ManagementService.Classify(e) is { } kind) { return Problem(kind, e); }
    }

    private static async Task<Results<T, ProblemHttpResult>> RunAsync<T>(Func<Task<T>> operation) where T : IResult
    {
        try { return await operation(); }
        catch (Exception e) when (ManagementService.Classify(e) is { } kind) { return Problem(kind, e); }
    }

    /// <summary>The management error as problem+json (RFC 9457) with the service's message, which names what is wrong.</summary>
    private static ProblemHttpResult Problem(ManagementError kind, Exception e)
    {
        var (status, title) = kind switch
        {
            ManagementError.NotFound => (StatusCodes.Status404NotFound, "Not found"),
            ManagementError.Conflict => (StatusCodes.Status409Conflict, "Conflicts with the server's state"),
            ManagementError.Refused => (StatusCodes.Status422UnprocessableEntity, "Refused"),
            _ => (StatusCodes.Status400BadRequest, "Invalid request"),
        };
        var extensions = e is ModuleRefusedException refused ? new Dictionary<string, object?> { ["module"] = refused.Module } : null;
        return TypedResults.Problem(e.Message, statusCode: status, title: title, extensions: extensions);
    }
}

/// <summary>A NIC no longer served.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Warning">Null, or what its removal did to a connected VMM.</param>
public sealed record RemovedNic(string Name, string? Warning);
