/** Reads a Server-Sent Events response as it comes (node suites of /events): each event's name and data, and when it arrived. */
export function readEvents(response: Response) {
  const events: { event: string; data: { at: number } & Record<string, unknown> }[] = []
  // Aligned with `events`: Date.now() as each one arrived (fake time in these suites).
  const arrivals: number[] = []
  const abort = new AbortController()
  let text = ''
  void response
    .body!.pipeThrough(new TextDecoderStream())
    .pipeTo(
      new WritableStream({
        write(chunk) {
          text += chunk
          for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
            const [event, data] = text.slice(0, end).split('\n')
            text = text.slice(end + 2)
            events.push({ event: event!.slice('event: '.length), data: JSON.parse(data!.slice('data: '.length)) })
            arrivals.push(Date.now())
          }
        },
      }),
      { signal: abort.signal },
    )
    .catch(() => {})
  return { events, arrivals, abort }
}
