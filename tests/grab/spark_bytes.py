"""Replies of a real Spark RPC port to grab/protocols/spark.py's RpcRequest, captured
on this machine from pyspark 4.3.0's standalone master (PyPI, on Debian 12's OpenJDK 17):
as the lab starts it (open), and with ``-Dspark.authenticate=true`` and a secret. Kept as
the error text; ``frame`` rebuilds the exact bytes (the framing is deterministic)."""

from __future__ import annotations

import struct

from netatlas.grab.protocols.spark import REQUEST_ID, RPC_FAILURE


def frame(text: str, request_id: int = REQUEST_ID, kind: int = RPC_FAILURE) -> bytes:
    body = text.encode()
    message = struct.pack(">Bqi", kind, request_id, len(body)) + body
    return struct.pack(">q", 8 + len(message)) + message


OPEN_TEXT = (
    'java.io.EOFException\n'
    '\tat java.base/java.io.DataInputStream.readFully(DataInputStream.java:203)\n'
    '\tat java.base/java.io.DataInputStream.readUTF(DataInputStream.java:602)\n'
    '\tat java.base/java.io.DataInputStream.readUTF(DataInputStream.java:558)\n'
    '\tat org.apache.spark.rpc.netty.RequestMessage$.readRpcAddress(NettyRpcEnv.scala:635)\n'
    '\tat org.apache.spark.rpc.netty.RequestMessage$.apply(NettyRpcEnv.scala:645)\n'
    '\tat org.apache.spark.rpc.netty.NettyRpcHandler.internalReceive(NettyRpcEnv.scala:704)\n'
    '\tat org.apache.spark.rpc.netty.NettyRpcHandler.receive(NettyRpcEnv.scala:689)\n'
    '\tat org.apache.spark.network.server.TransportRequestHandler.processRpc'
    'Request(TransportRequestHandler.java:168)\n'
    '\tat org.apache.spark.network.server.TransportRequestHandler.handle(Tra'
    'nsportRequestHandler.java:111)\n'
    '\tat org.apache.spark.network.server.TransportChannelHandler.channelRea'
    'd0(TransportChannelHandler.java:143)\n'
    '\tat org.apache.spark.network.server.TransportChannelHandler.channelRea'
    'd0(TransportChannelHandler.java:55)\n'
    '\tat io.netty.channel.SimpleChannelInboundHandler.channelRead(SimpleCha'
    'nnelInboundHandler.java:99)\n'
    '\tat io.netty.channel.AbstractChannelHandlerContext.fireChannelRead(Abs'
    'tractChannelHandlerContext.java:357)\n'
    '\tat io.netty.handler.timeout.IdleStateHandler.channelRead(IdleStateHandler.java:288)\n'
    '\tat io.netty.channel.AbstractChannelHandlerContext.fireChannelRead(Abs'
    'tractChannelHandlerContext.java:355)\n'
    '\tat io.netty.handler.codec.MessageToMessageDecoder.channelRead(Message'
    'ToMessageDecoder.java:107)\n'
    '\tat io.netty.channel.AbstractChannelHandlerContext.fireChannelRead(Abs'
    'tractChannelHandlerContext.java:357)\n'
    '\tat org.apache.spark.network.util.TransportFrameDecoder.channelRead(Tr'
    'ansportFrameDecoder.java:101)\n'
    '\tat io.netty.channel.AbstractChannelHandlerContext.fireChannelRead(Abs'
    'tractChannelHandlerContext.java:357)\n'
    '\tat io.netty.channel.DefaultChannelPipeline$HeadContext.channelRead(De'
    'faultChannelPipeline.java:1429)\n'
    '\tat io.netty.channel.DefaultChannelPipeline.fireChannelRead(DefaultCha'
    'nnelPipeline.java:918)\n'
    '\tat io.netty.channel.epoll.AbstractEpollStreamChannel$EpollStreamUnsaf'
    'e.epollInReady(AbstractEpollStreamChannel.java:804)\n'
    '\tat io.netty.channel.epoll.AbstractEpollChannel$AbstractEpollUnsafe.ha'
    'ndle(AbstractEpollChannel.java:487)\n'
    '\tat io.netty.channel.epoll.EpollIoHandler$DefaultEpollIoRegistration.h'
    'andle(EpollIoHandler.java:349)\n'
    '\tat io.netty.channel.epoll.EpollIoHandler.processReady(EpollIoHandler.java:546)\n'
    '\tat io.netty.channel.epoll.EpollIoHandler.run(EpollIoHandler.java:491)\n'
    '\tat io.netty.channel.SingleThreadIoEventLoop.runIo(SingleThreadIoEventLoop.java:225)\n'
    '\tat io.netty.channel.SingleThreadIoEventLoop.run(SingleThreadIoEventLoop.java:196)\n'
    '\tat io.netty.util.concurrent.SingleThreadEventExecutor$5.run(SingleThr'
    'eadEventExecutor.java:1195)\n'
    '\tat io.netty.util.internal.ThreadExecutorMap$2.run(ThreadExecutorMap.java:74)\n'
    '\tat io.netty.util.concurrent.FastThreadLocalRunnable.run(FastThreadLocalRunnable.java:30)\n'
    '\tat java.base/java.lang.Thread.run(Thread.java:840)\n'
    ''
)
OPEN = frame(OPEN_TEXT)
assert len(OPEN) == 2980  # as received

AUTH_TEXT = (
    'java.lang.IllegalStateException: Expected SaslMessage, received someth'
    'ing else (maybe your client does not have SASL enabled?)\n'
    '\tat org.apache.spark.network.sasl.SaslMessage.decode(SaslMessage.java:70)\n'
    '\tat org.apache.spark.network.sasl.SaslRpcHandler.doAuthChallenge(SaslRpcHandler.java:83)\n'
    '\tat org.apache.spark.network.server.AbstractAuthRpcHandler.receive(Abs'
    'tractAuthRpcHandler.java:59)\n'
    '\tat org.apache.spark.network.server.TransportRequestHandler.processRpc'
    'Request(TransportRequestHandler.java:168)\n'
    '\tat org.apache.spark.network.server.TransportRequestHandler.handle(Tra'
    'nsportRequestHandler.java:111)\n'
    '\tat org.apache.spark.network.server.TransportChannelHandler.channelRea'
    'd0(TransportChannelHandler.java:143)\n'
    '\tat org.apache.spark.network.server.TransportChannelHandler.channelRea'
    'd0(TransportChannelHandler.java:55)\n'
    '\tat io.netty.channel.SimpleChannelInboundHandler.channelRead(SimpleCha'
    'nnelInboundHandler.java:99)\n'
    '\tat io.netty.channel.AbstractChannelHandlerContext.fireChannelRead(Abs'
    'tractChannelHandlerContext.java:357)\n'
    '\tat io.netty.handler.timeout.IdleStateHandler.channelRead(IdleStateHandler.java:288)\n'
    '\tat io.netty.channel.AbstractChannelHandlerContext.fireChannelRead(Abs'
    'tractChannelHandlerContext.java:355)\n'
    '\tat io.netty.handler.codec.MessageToMessageDecoder.channelRead(Message'
    'ToMessageDecoder.java:107)\n'
    '\tat io.netty.channel.AbstractChannelHandlerContext.fireChannelRead(Abs'
    'tractChannelHandlerContext.java:357)\n'
    '\tat org.apache.spark.network.util.TransportFrameDecoder.channelRead(Tr'
    'ansportFrameDecoder.java:101)\n'
    '\tat io.netty.channel.AbstractChannelHandlerContext.fireChannelRead(Abs'
    'tractChannelHandlerContext.java:357)\n'
    '\tat io.netty.channel.DefaultChannelPipeline$HeadContext.channelRead(De'
    'faultChannelPipeline.java:1429)\n'
    '\tat io.netty.channel.DefaultChannelPipeline.fireChannelRead(DefaultCha'
    'nnelPipeline.java:918)\n'
    '\tat io.netty.channel.epoll.AbstractEpollStreamChannel$EpollStreamUnsaf'
    'e.epollInReady(AbstractEpollStreamChannel.java:804)\n'
    '\tat io.netty.channel.epoll.AbstractEpollChannel$AbstractEpollUnsafe.ha'
    'ndle(AbstractEpollChannel.java:487)\n'
    '\tat io.netty.channel.epoll.EpollIoHandler$DefaultEpollIoRegistration.h'
    'andle(EpollIoHandler.java:349)\n'
    '\tat io.netty.channel.epoll.EpollIoHandler.processReady(EpollIoHandler.java:546)\n'
    '\tat io.netty.channel.epoll.EpollIoHandler.run(EpollIoHandler.java:491)\n'
    '\tat io.netty.channel.SingleThreadIoEventLoop.runIo(SingleThreadIoEventLoop.java:225)\n'
    '\tat io.netty.channel.SingleThreadIoEventLoop.run(SingleThreadIoEventLoop.java:196)\n'
    '\tat io.netty.util.concurrent.SingleThreadEventExecutor$5.run(SingleThr'
    'eadEventExecutor.java:1195)\n'
    '\tat io.netty.util.internal.ThreadExecutorMap$2.run(ThreadExecutorMap.java:74)\n'
    '\tat io.netty.util.concurrent.FastThreadLocalRunnable.run(FastThreadLocalRunnable.java:30)\n'
    '\tat java.base/java.lang.Thread.run(Thread.java:840)\n'
    ''
)
AUTH = frame(AUTH_TEXT)
assert len(AUTH) == 2805  # as received
